# `rocks add vcluster container` of the vcluster roll, generated from its command registry (TestShimsGenerated -update); do not edit. See vcluster_exec.py.
import rocks.commands.vcluster_exec as vcluster_exec

RollName = "vcluster"


class Command(vcluster_exec.Command):
	"""
	Register a VM container of a site: a host running vcluster-agent that
	boots guests. Until the container reports its load, placement uses the
	declared cpus= and mem= (and warns).

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

	<example cmd='add vcluster container B vm-container-0-0 agent=198.18.1.10 cpus=8 mem=16384'>
	Register a container of site B.
	</example>
	"""
