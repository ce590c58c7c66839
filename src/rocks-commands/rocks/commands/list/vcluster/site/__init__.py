# `rocks list vcluster site` of the vcluster roll, generated from its command registry (TestShimsGenerated -update); do not edit. See vcluster_exec.py.
import rocks.commands.vcluster_exec as vcluster_exec

RollName = "vcluster"


class Command(vcluster_exec.UserCommand):
	"""
	List the registered sites: frontend, agent port, key file and key id
	(never the key).

	<example cmd='list vcluster site'>
	</example>
	"""
