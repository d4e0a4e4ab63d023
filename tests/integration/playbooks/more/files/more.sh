#!/bin/sh
# writes the file named by its argument, and says who ran it
set -e
echo "ran by $(id -un) in $(pwd)" > "$1"
echo "wrote $1"
