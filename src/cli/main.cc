// main.cc — the stagebridge executable; everything else is in the libraries.
#include "cli/app.h"

int main(int argc, char** argv) {
  return stagebridge::cli::RunCli(argc, argv);
}
