# `rocks add vcluster site` of the vcluster roll, generated from its command registry (TestShimsGenerated -update); do not edit. See vcluster_exec.py.
import rocks.commands.vcluster_exec as vcluster_exec

RollName = "vcluster"


class Command(vcluster_exec.Command):
	"""
	Register a site: a Rocks cluster whose VM containers may host guests of
	virtual clusters. The first site registered is the home site (the one
	whose frontend runs this database); its frontend hosts the virtual
	frontends and, by default, the overlay's supernode.

	<arg type='string' name='NAME' optional='0'>
	Short site name (letters, digits, '-').
	</arg>

	<param type='FRONTEND' name='frontend' optional='1'>
	The site frontend's host name or address (required).
	</param>

	<param type='AGENT_PORT' name='agent-port' optional='1'>
	TCP port of the site's vcluster-agents. Default: 8678.
	</param>

	<param type='KEY' name='key' optional='1'>
	Site key file (64 hex characters, mode 0600). Created with a new random
	key if it does not exist. Default: /etc/vcluster/keys/NAME.key.
	</param>

	<param type='HOME' name='home' optional='1'>
	yes: this is the home site (default yes for the first site).
	</param>

	<param type='CA' name='ca' optional='1'>
	PEM file of the certificate authorities that signed the site's agents'
	TLS certificates (for containers added with agent=https://...). Default:
	the system's roots.
	</param>

	<example cmd='add vcluster site A frontend=198.18.0.1 key=/etc/vcluster/keys/A.key'>
	Register site A and create its key file.
	</example>

	<example cmd='add vcluster site B frontend=198.18.1.1 ca=/etc/vcluster/B-ca.pem'>
	Register site B, whose agents serve HTTPS with certificates of B's CA.
	</example>
	"""
