# `rocks list vcluster status` of the vcluster roll, generated from its command registry (TestShimsGenerated -update); do not edit. See vcluster_exec.py.
import rocks.commands.vcluster_exec as vcluster_exec

RollName = "vcluster"


class Command(vcluster_exec.UserCommand):
	"""
	List every guest with its desired power state (the database: on, or off
	after rocks stop vcluster) and its actual state (asked from the
	containers' agents now) side by side: site, container, the container's
	load and health (with its state when it is not active: drain, disabled),
	and when vclusterd last heard from it. A guest desired off that still
	runs is stopping; a guest that also runs somewhere else is flagged.

	<arg type='string' name='NAME' optional='1'>
	Only this virtual cluster.
	</arg>

	<param type='TIMEOUT' name='timeout' optional='1'>
	Seconds allowed for each agent. Default: 5.
	</param>

	<example cmd='list vcluster status vc1'>
	</example>
	"""
