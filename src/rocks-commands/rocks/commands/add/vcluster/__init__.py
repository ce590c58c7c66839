# `rocks add vcluster` of the vcluster roll, generated from its command registry (TestShimsGenerated -update); do not edit. See vcluster_exec.py.
import rocks.commands.vcluster_exec as vcluster_exec

RollName = "vcluster"


class Command(vcluster_exec.Command):
	"""
	Create a virtual cluster in the database: a virtual frontend on the home
	site's frontend plus NODES compute guests on lightly loaded VM
	containers of the chosen sites, one N2N overlay (community, random key,
	supernode, subnet) joining them. Everything is written in one
	transaction; no machine changes until 'rocks sync vcluster NAME'.

	Placement never over-commits a container's memory; among the containers
	where a guest fits, the least loaded (load per CPU) wins. Stale load
	reports are renewed from the agents first (refresh=), in parallel and
	before the transaction. A container that has never reported its load is
	judged by its declared cpus/mem, with a warning. Containers that
	vclusterd declared dead get no guests. When the home site registered its
	frontend as a container (role=frontend), the virtual frontend is placed
	there and the controller manages it like any guest; else it is not
	managed (container NULL). Compute guests never go to a frontend
	container.

	<arg type='string' name='NAME' optional='0'>
	Virtual cluster name; also the virtual frontend's host name. Compute
	guests are vm-NAME-0, vm-NAME-1, ...
	</arg>

	<param type='NODES' name='nodes' optional='1'>
	Number of compute guests (required).
	</param>

	<param type='SITES' name='sites' optional='1'>
	Comma-separated sites to use, in order of preference. Default: all
	sites.
	</param>

	<param type='CPUS' name='cpus' optional='1'>
	Virtual CPUs per guest. Default: 1.
	</param>

	<param type='MEM' name='mem' optional='1'>
	Memory per guest in MiB. Default: 1024.
	</param>

	<param type='DISK' name='disk' optional='1'>
	Disk per guest in GB. Default: 36.
	</param>

	<param type='POLICY' name='policy' optional='1'>
	spread: balance guests over sites and containers; pack: fill the fewest
	containers. Default: spread.
	</param>

	<param type='SUBNET' name='subnet' optional='1'>
	Overlay IPv4 subnet, e.g. 100.64.0.0/24. Default: the first free /24 (or
	larger, for big clusters) in 100.64.0.0/10.
	</param>

	<param type='FRONTEND' name='frontend' optional='1'>
	yes: create a virtual frontend on the home site's frontend. Default:
	yes.
	</param>

	<param type='SUPERNODE' name='supernode' optional='1'>
	N2N supernode(s), HOST:PORT[,HOST:PORT]. Default: the home site's
	frontend, port 7654.
	</param>

	<param type='PROTOCOL' name='protocol' optional='1'>
	Overlay protocol: native (authenticated encryption) or v1 (stock N2N
	v1). Default: native.
	</param>

	<param type='MTU' name='mtu' optional='1'>
	Overlay MTU. Default: 1400.
	</param>

	<param type='DRYRUN' name='dryrun' optional='1'>
	yes: print the plan and why each container was chosen; write no virtual
	cluster (fresh load reports are still stored). Default: no.
	</param>

	<param type='REFRESH' name='refresh' optional='1'>
	Ask the agents for their load before placing: auto: containers whose
	stored report is missing or older than max-age; yes: all; no: none (use
	the stored reports, else the declared capacity). An agent that does not
	answer is a warning, and its stored report or declared capacity is used.
	Default: auto.
	</param>

	<param type='MAX_AGE' name='max-age' optional='1'>
	Seconds after which a stored load report is stale (refresh=auto).
	Default: 60.
	</param>

	<param type='TIMEOUT' name='timeout' optional='1'>
	Seconds to wait for each agent's answer when refreshing. Default: 3.
	</param>

	<example cmd='add vcluster vc1 nodes=12'>
	A virtual frontend and 12 compute guests spread over all sites.
	</example>

	<example cmd='add vcluster vc2 nodes=4 sites=B,C mem=2048 policy=pack dryrun=yes'>
	Show where 4 guests of 2 GiB would go on sites B and C.
	</example>
	"""
