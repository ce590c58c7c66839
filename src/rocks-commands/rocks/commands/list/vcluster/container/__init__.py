# vcluster roll: `rocks list vcluster container`. Generated from rocks-vcluster's command
# registry (go test ./src/internal/commands -run TestShimsGenerated -update);
# do not edit. The shared code is rocks/commands/vcluster_exec.py.
import rocks.commands.vcluster_exec as vcluster_exec

RollName = "vcluster"


class Command(vcluster_exec.Command):
	"""
	List the VM containers of all sites with their latest load report and
	guest count.

	<arg type='string' name='SITE' optional='1'>
	Only this site.
	</arg>

	<example cmd='list vcluster container'>
	</example>
	"""

	MustBeRoot = 0
