#include "vfo/base/atomic_file.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>

#include "vfo/testing/names.h"

namespace vfo {
namespace {

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override { dir = testing::makeTempDir("vfo-atomic-"); }
  void TearDown() override { testing::removeTree(dir); }
  std::string dir;
};

TEST_F(AtomicFileTest, WritesAndReplaces) {
  const std::string p = dir + "/state.pb";
  ASSERT_TRUE(writeFileAtomically(p, "one").isOk());
  EXPECT_EQ(*readWholeFile(p), "one");
  ASSERT_TRUE(writeFileAtomically(p, "two, longer").isOk());
  EXPECT_EQ(*readWholeFile(p), "two, longer");
  struct stat st;
  ASSERT_EQ(stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(AtomicFileTest, ErrorsNameTheStep) {
  Status s = writeFileAtomically(dir + "/missing/state.pb", "x");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("create "), std::string::npos) << s.message();
  EXPECT_EQ(readWholeFile(dir + "/nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(writeFileAtomically(dir + "/", "x").code(), StatusCode::kInvalidArgument);
}

TEST_F(AtomicFileTest, RemovesStaleTempFiles) {
  const std::string p = dir + "/state.pb";
  ASSERT_TRUE(writeFileAtomically(dir + "/.state.pb.tmp.12345", "junk").isOk());
  EXPECT_EQ(removeStaleTempFiles(p), 1);
  EXPECT_EQ(removeStaleTempFiles(p), 0);
}

// A writer killed with SIGKILL at random moments never leaves a torn file:
// the reader always sees one complete generation.
TEST_F(AtomicFileTest, SigkillNeverLeavesATornFile) {
  const std::string p = dir + "/state.pb";
  auto content = [](int gen) {
    return std::string(size_t(4096 + gen * 37 % 9000), char('a' + gen % 26));
  };
  ASSERT_TRUE(writeFileAtomically(p, content(0)).isOk());
  std::mt19937 rng(42);
  for (int round = 0; round < 30; ++round) {
    int pipefd[2];
    ASSERT_EQ(pipe(pipefd), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(pipefd[0]);
      for (int gen = 1;; ++gen) {
        if (!writeFileAtomically(p, content(gen)).isOk()) _exit(3);
        (void)!write(pipefd[1], "x", 1);  // one byte per finished generation
      }
    }
    close(pipefd[1]);
    // Wait for a random number of finished generations, then kill the writer
    // while it is in the middle of the next one.
    const int wait_gens = 1 + int(rng() % 40);
    char c;
    for (int i = 0; i < wait_gens; ++i) ASSERT_EQ(read(pipefd[0], &c, 1), 1);
    kill(pid, SIGKILL);
    close(pipefd[0]);
    int status;
    waitpid(pid, &status, 0);
    auto got = readWholeFile(p);
    ASSERT_TRUE(got.isOk());
    ASSERT_FALSE(got->empty());
    const char ch = (*got)[0];
    EXPECT_EQ(*got, std::string(got->size(), ch)) << "torn file in round " << round;
    bool matches_a_generation = false;
    for (int gen = 0; gen < 26 * 400 && !matches_a_generation; ++gen)
      matches_a_generation = content(gen) == *got;
    EXPECT_TRUE(matches_a_generation) << "round " << round << " size " << got->size();
    removeStaleTempFiles(p);
  }
}

}  // namespace
}  // namespace vfo
