# vcluster roll: `rocks list vcluster site`. Generated from rocks-vcluster's command
# registry (go test ./src/internal/commands -run TestShimsGenerated -update);
# do not edit. The shared code is rocks/commands/vcluster_exec.py.
import rocks.commands.vcluster_exec as vcluster_exec

RollName = "vcluster"


class Command(vcluster_exec.Command):
	"""
	List the registered sites: frontend, agent port, key file and key id
	(never the key).

	<example cmd='list vcluster site'>
	</example>
	"""

	MustBeRoot = 0
