# `rocks list vcluster host` of the vcluster roll, generated from its command registry (TestShimsGenerated -update); do not edit. See vcluster_exec.py.
import rocks.commands.vcluster_exec as vcluster_exec

RollName = "vcluster"


class Command(vcluster_exec.UserCommand):
	"""
	List the guests of a virtual cluster: site, container, MAC, overlay IP,
	CPUs and memory.

	<arg type='string' name='NAME' optional='0'>
	The virtual cluster.
	</arg>

	<example cmd='list vcluster host vc1'>
	</example>
	"""
