# `rocks remove vcluster site` of the vcluster roll, generated from its command registry (TestShimsGenerated -update); do not edit. See vcluster_exec.py.
import rocks.commands.vcluster_exec as vcluster_exec

RollName = "vcluster"


class Command(vcluster_exec.Command):
	"""
	Retire a site: delete it and its containers. Refused while a guest is
	placed there (drain its containers first), while a copy of a guest may
	still be defined on one of its containers, and while it is the home site
	of a virtual cluster. The key file is left where it is.

	<arg type='string' name='SITE' optional='0'>
	The site's name.
	</arg>

	<example cmd='remove vcluster site C'>
	</example>
	"""
