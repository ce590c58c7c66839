# `rocks sync vcluster` of the vcluster roll, generated from its command registry (TestShimsGenerated -update); do not edit. See vcluster_exec.py.
import rocks.commands.vcluster_exec as vcluster_exec

RollName = "vcluster"


class Command(vcluster_exec.Command):
	"""
	Make the running guests match the database: ask every VM container's
	agent what it runs, destroy and undefine guests that were removed or
	moved away, then define and start the missing ones. Only needed calls
	are made: a second run right after the first makes none. Containers are
	worked on in parallel; an unreachable one is reported and does not stop
	the others. A guest is never started while an old copy of it may still
	run (see docs/controller.md). Guests of draining containers (rocks set
	vcluster container ... state=drain) are moved away first, one at a time,
	each one running on its new container before the next moves. Exit status
	0 only when every guest in scope runs where the database says.

	<arg type='string' name='NAME' optional='1'>
	Only this virtual cluster (default: all).
	</arg>

	<param type='CONCURRENCY' name='concurrency' optional='1'>
	Containers worked on at once. Default: 128.
	</param>

	<param type='TIMEOUT' name='timeout' optional='1'>
	Seconds allowed for each agent call. Default: 30.
	</param>

	<param type='WAIT' name='wait' optional='1'>
	Seconds to wait for another sync, move or vclusterd relocation to
	finish. Default: 60.
	</param>

	<param type='BRIDGE' name='bridge' optional='1'>
	Container bridge of a guest's private NIC (guests it defines). Default:
	eth0.
	</param>

	<param type='PUBLIC_BRIDGE' name='public-bridge' optional='1'>
	Container bridge of a virtual frontend's public NIC (guests it defines).
	Default: eth1.
	</param>

	<example cmd='sync vcluster vc1'>
	Start the guests of vc1 that are not running yet.
	</example>

	<example cmd='sync vcluster'>
	Converge every virtual cluster.
	</example>
	"""
