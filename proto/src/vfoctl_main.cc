// vfoctl: command-line client of vfod's ops API (see docs/api.md).
#include <iostream>

#include "vfo/api/vfoctl.h"

int main(int argc, char** argv) {
  return vfo::api::cli::runVfoctl(argc, argv, std::cout, std::cerr);
}
