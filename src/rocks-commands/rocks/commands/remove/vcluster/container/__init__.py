# `rocks remove vcluster container` of the vcluster roll, generated from its command registry (TestShimsGenerated -update); do not edit. See vcluster_exec.py.
import rocks.commands.vcluster_exec as vcluster_exec

RollName = "vcluster"


class Command(vcluster_exec.Command):
	"""
	Retire a VM container: delete its row (and its load report and health).
	Refused while a guest is placed there (drain it first) or while a copy
	of a guest may still be defined there (run rocks sync vcluster first, so
	that nothing vcluster defined is forgotten).

	<arg type='string' name='CONTAINER' optional='0'>
	SITE/HOST (or HOST when only one site has it).
	</arg>

	<example cmd='remove vcluster container B/vm-container-0-1'>
	</example>
	"""
