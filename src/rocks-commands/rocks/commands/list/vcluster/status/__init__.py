# `rocks list vcluster status` of the vcluster roll, generated from its command registry (TestShimsGenerated -update); do not edit. See vcluster_exec.py.
import rocks.commands.vcluster_exec as vcluster_exec

RollName = "vcluster"


class Command(vcluster_exec.UserCommand):
	"""
	List every guest with its desired state (the database) and its actual
	state (asked from the containers' agents now): site, container, the
	container's load and health, and when vclusterd last heard from it. A
	guest that also runs somewhere else is flagged.

	<arg type='string' name='NAME' optional='1'>
	Only this virtual cluster.
	</arg>

	<param type='TIMEOUT' name='timeout' optional='1'>
	Seconds allowed for each agent. Default: 5.
	</param>

	<example cmd='list vcluster status vc1'>
	</example>
	"""
