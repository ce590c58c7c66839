# `rocks move vcluster` of the vcluster roll, generated from its command registry (TestShimsGenerated -update); do not edit. See vcluster_exec.py.
from rocks.commands.move.vcluster.host import Command as Of

RollName = "vcluster"


class Command(Of):
	__doc__ = "\n\tThe same as 'rocks move vcluster host'.\n" + Of.__doc__
