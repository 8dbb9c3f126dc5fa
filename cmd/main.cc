// The thin euca executable: all logic lives in the libraries (cmd/cli.h).
#include "cmd/cli.h"

int main(int argc, char** argv) { return euca::cmd::Main(argc, argv); }
