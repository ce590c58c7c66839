# `rocks list vcluster container` of the vcluster roll, generated from its command registry (TestShimsGenerated -update); do not edit. See vcluster_exec.py.
import rocks.commands.vcluster_exec as vcluster_exec

RollName = "vcluster"


class Command(vcluster_exec.UserCommand):
	"""
	List the VM containers of all sites with their role (compute, frontend),
	state (active, drain, disabled), latest load report and guest count.

	<arg type='string' name='SITE' optional='1'>
	Only this site.
	</arg>

	<example cmd='list vcluster container'>
	</example>
	"""
