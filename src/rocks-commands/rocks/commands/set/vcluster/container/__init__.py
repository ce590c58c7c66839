# `rocks set vcluster container` of the vcluster roll, generated from its command registry (TestShimsGenerated -update); do not edit. See vcluster_exec.py.
import rocks.commands.vcluster_exec as vcluster_exec

RollName = "vcluster"


class Command(vcluster_exec.Command):
	"""
	Take a VM container out of service, or put it back. active: placement
	may choose it. drain: placement skips it, and the next rocks sync
	vcluster (and vclusterd) moves its guests to other containers one by
	one, by the rules of rocks move vcluster host (each old copy destroyed
	before the new one starts; a stopped guest moves and stays stopped),
	reporting each move. disabled: placement skips it; its guests stay and
	keep running. Draining the last active container of a site that holds
	guests is allowed, with a warning: they leave the site. A frontend
	container (role=frontend) cannot drain: its virtual frontends never
	move.

	<arg type='string' name='CONTAINER' optional='0'>
	SITE/HOST (or HOST when only one site has it).
	</arg>

	<param type='STATE' name='state' optional='1'>
	active, drain or disabled (required).
	</param>

	<example cmd='set vcluster container B/vm-container-0-1 state=drain'>
	Empty a container for maintenance; then run rocks sync vcluster.
	</example>

	<example cmd='set vcluster container B/vm-container-0-1 state=active'>
	Put it back into service.
	</example>
	"""
