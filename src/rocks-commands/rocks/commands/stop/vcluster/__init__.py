# `rocks stop vcluster` of the vcluster roll, generated from its command registry (TestShimsGenerated -update); do not edit. See vcluster_exec.py.
import rocks.commands.vcluster_exec as vcluster_exec

RollName = "vcluster"


class Command(vcluster_exec.Command):
	"""
	Power off the guests of a virtual cluster (or some of them). Each guest
	is asked to shut down (ACPI on KVM, Xen's shutdown) through its
	container's agent and given timeout= seconds, then destroyed; force=yes
	destroys at once. The database records the guest as off first, under the
	controller lock, so neither rocks sync vcluster nor vclusterd starts or
	relocates it again; a guest is reported stopped only once its container
	says it no longer runs, else stopping (its container could not be
	reached: the next sync shuts it down) and the exit status is 1. A
	stopped guest keeps its container, MACs, overlay address and disk: rocks
	start vcluster brings it back there. Its memory is free for placement
	unless reserve=yes. A virtual frontend on a frontend container
	(role=frontend) is powered like any guest; one without (container NULL)
	is not powered by vcluster. Stopping a stopped guest changes nothing.

	<arg type='string' name='NAME' optional='0'>
	The virtual cluster.
	</arg>

	<param type='HOST' name='host' optional='1'>
	Comma-separated guests of the cluster to stop. Default: all its guests
	vcluster manages (a virtual frontend on a frontend container too).
	</param>

	<param type='TIMEOUT' name='timeout' optional='1'>
	Seconds a guest is given to shut down before it is destroyed. Default:
	60.
	</param>

	<param type='FORCE' name='force' optional='1'>
	yes: destroy the guests at once (pull the plug). Default: no.
	</param>

	<param type='RESERVE' name='reserve' optional='1'>
	yes: the stopped guests' memory stays reserved on their containers, so
	placement never gives it away and start always finds room. Default: no.
	</param>

	<param type='WAIT' name='wait' optional='1'>
	Seconds to wait for another sync, move or vclusterd relocation to
	finish. Default: 60.
	</param>

	<example cmd='stop vcluster vc1'>
	Shut down every guest of vc1 that vcluster manages.
	</example>

	<example cmd='stop vcluster vc1 host=vm-vc1-2,vm-vc1-3 force=yes'>
	Destroy two guests at once.
	</example>
	"""
