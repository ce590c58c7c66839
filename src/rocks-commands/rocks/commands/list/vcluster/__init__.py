# vcluster roll: `rocks list vcluster`. Generated from rocks-vcluster's command
# registry (go test ./src/internal/commands -run TestShimsGenerated -update);
# do not edit. The shared code is rocks/commands/vcluster_exec.py.
import rocks.commands.vcluster_exec as vcluster_exec

RollName = "vcluster"


class Command(vcluster_exec.Command):
	"""
	List virtual clusters: home site, virtual frontend, guest count, sites
	used and overlay (never its key).

	<arg type='string' name='NAME' optional='1'>
	Only this virtual cluster.
	</arg>

	<example cmd='list vcluster'>
	</example>

	<example cmd='list vcluster vc1'>
	</example>
	"""

	MustBeRoot = 0
