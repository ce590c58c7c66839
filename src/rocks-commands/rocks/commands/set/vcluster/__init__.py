# vcluster roll: makes rocks/commands/set/vcluster a package; it holds no command.
# Generated with the shims; do not edit.

RollName = "vcluster"
