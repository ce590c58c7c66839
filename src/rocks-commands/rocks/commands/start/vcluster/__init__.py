# `rocks start vcluster` of the vcluster roll, generated from its command registry (TestShimsGenerated -update); do not edit. See vcluster_exec.py.
import rocks.commands.vcluster_exec as vcluster_exec

RollName = "vcluster"


class Command(vcluster_exec.Command):
	"""
	Power on stopped guests of a virtual cluster (or some of them) where
	they were: the database records them as on, then they are started on
	their containers as rocks sync vcluster does (defined first if the
	container lost the definition), never while another copy may run.
	Starting a running guest changes nothing. Exit status 0 only when every
	named guest runs where the database says.

	<arg type='string' name='NAME' optional='0'>
	The virtual cluster.
	</arg>

	<param type='HOST' name='host' optional='1'>
	Comma-separated guests of the cluster to start. Default: all its guests
	vcluster manages (a virtual frontend on a frontend container too).
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

	<example cmd='start vcluster vc1'>
	Start every stopped guest of vc1.
	</example>

	<example cmd='start vcluster vc1 host=vm-vc1-2'>
	Start one guest.
	</example>
	"""
