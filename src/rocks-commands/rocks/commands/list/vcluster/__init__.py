# `rocks list vcluster` of the vcluster roll, generated from its command registry (TestShimsGenerated -update); do not edit. See vcluster_exec.py.
import rocks.commands.vcluster_exec as vcluster_exec

RollName = "vcluster"


class Command(vcluster_exec.UserCommand):
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
