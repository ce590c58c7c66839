# `rocks move vcluster host` of the vcluster roll, generated from its command registry (TestShimsGenerated -update); do not edit. See vcluster_exec.py.
import rocks.commands.vcluster_exec as vcluster_exec

RollName = "vcluster"


class Command(vcluster_exec.Command):
	"""
	Move a guest to another VM container, the way vclusterd relocates: the
	database is changed in one transaction, then the old copy is destroyed
	and undefined and, only once that is confirmed (or the old container is
	dead), the guest is defined and started on the new container. The guest
	restarts there from its disk image (a cold move). A virtual frontend
	never moves: it runs on its site's frontend.

	<arg type='string' name='GUEST' optional='0'>
	The guest's host name (e.g. vm-vc1-3).
	</arg>

	<param type='CONTAINER' name='container' optional='1'>
	The new container: HOST, SITE/HOST, or 'auto' for the best one by
	placement's rules (required).
	</param>

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

	<example cmd='move vcluster host vm-vc1-3 container=B/vm-container-0-2'>
	Move vm-vc1-3 to a container of site B.
	</example>

	<example cmd='move vcluster host vm-vc1-3 container=auto'>
	Move it to the best other container.
	</example>
	"""
