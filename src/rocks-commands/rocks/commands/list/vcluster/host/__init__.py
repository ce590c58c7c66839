# vcluster roll: `rocks list vcluster host`. Generated from rocks-vcluster's command
# registry (go test ./src/internal/commands -run TestShimsGenerated -update);
# do not edit. The shared code is rocks/commands/vcluster_exec.py.
import rocks.commands.vcluster_exec as vcluster_exec

RollName = "vcluster"


class Command(vcluster_exec.Command):
	"""
	List the guests of a virtual cluster: site, container, MAC, overlay IP,
	CPUs and memory.

	<arg type='string' name='NAME' optional='0'>
	The virtual cluster.
	</arg>

	<example cmd='list vcluster host vc1'>
	</example>
	"""

	MustBeRoot = 0
