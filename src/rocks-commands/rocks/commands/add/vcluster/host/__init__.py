# `rocks add vcluster host` of the vcluster roll, generated from its command registry (TestShimsGenerated -update); do not edit. See vcluster_exec.py.
import rocks.commands.vcluster_exec as vcluster_exec

RollName = "vcluster"


class Command(vcluster_exec.Command):
	"""
	Grow a virtual cluster by COUNT compute guests, placed and written as
	rocks add vcluster does (the same placement rules and the cluster's
	spread/pack policy; memory never over-committed; only live, active
	containers), in one transaction. The new guests get the cluster's
	overlay (community, supernode, key, the next free addresses of its
	subnet, whose room is checked before anything changes) and the size of
	its existing compute guests unless cpus=, mem= or disk= say otherwise.
	No machine changes until 'rocks sync vcluster NAME', which boots them.

	<arg type='string' name='NAME' optional='0'>
	The virtual cluster.
	</arg>

	<param type='COUNT' name='count' optional='1'>
	Number of compute guests to add (required).
	</param>

	<param type='SITES' name='sites' optional='1'>
	Comma-separated sites to use, in order of preference. Default: all
	sites.
	</param>

	<param type='CPUS' name='cpus' optional='1'>
	Virtual CPUs per guest. Default: as the cluster's last compute guest
	(else 1).
	</param>

	<param type='MEM' name='mem' optional='1'>
	Memory per guest in MiB. Default: as the cluster's last compute guest
	(else 1024).
	</param>

	<param type='DISK' name='disk' optional='1'>
	Disk per guest in GB. Default: as the cluster's last compute guest (else
	36).
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

	<example cmd='add vcluster host vc1 count=4'>
	Four more compute guests for vc1; then rocks sync vcluster vc1.
	</example>

	<example cmd='add vcluster host vc1 count=2 sites=B'>
	Two more on site B.
	</example>
	"""
