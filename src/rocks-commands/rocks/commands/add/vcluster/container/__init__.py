# `rocks add vcluster container` of the vcluster roll, generated from its command registry (TestShimsGenerated -update); do not edit. See vcluster_exec.py.
import rocks.commands.vcluster_exec as vcluster_exec

RollName = "vcluster"


class Command(vcluster_exec.Command):
	"""
	Register a VM container of a site: a host running vcluster-agent that
	boots guests. Until the container reports its load, placement uses the
	declared cpus= and mem= (and warns). role=frontend registers the site's
	physical frontend as the host of the site's virtual frontends (as Rocks
	runs a virtual cluster's frontend VM on the physical frontend): add
	vcluster puts the home site's virtual frontend there, managed like any
	guest, and placement never puts a compute guest there.

	<arg type='string' name='SITE' optional='0'>
	A site registered with 'rocks add vcluster site'.
	</arg>

	<arg type='string' name='HOST' optional='0'>
	The container's host name (e.g. vm-container-0-0).
	</arg>

	<param type='AGENT' name='agent' optional='1'>
	The agent's address, HOST or HOST:PORT (required); the port defaults to
	the site's agent-port. https://HOST[:PORT] when the agent serves TLS
	(tls_cert in its agent.toml); its certificate is checked against the
	site's ca= file.
	</param>

	<param type='CPUS' name='cpus' optional='1'>
	Declared CPUs (used until the container reports). Default: 0.
	</param>

	<param type='MEM' name='mem' optional='1'>
	Declared memory for guests in MiB (used until the container reports).
	Default: 0.
	</param>

	<param type='ROLE' name='role' optional='1'>
	compute (takes placed guests) or frontend (the site's physical frontend,
	hosting its virtual frontends; at most one per site). Default: compute.
	</param>

	<example cmd='add vcluster container B vm-container-0-0 agent=198.18.1.10 cpus=8 mem=16384'>
	Register a container of site B.
	</example>

	<example cmd='add vcluster container A frontend-0 agent=10.1.1.1 role=frontend'>
	Let site A's physical frontend host its virtual frontends.
	</example>
	"""
