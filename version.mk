# Rocks roll metadata (read by the Makefile, the RPM specs and the roll ISO).
ROLLNAME	= vcluster
NAME		= roll-$(ROLLNAME)
VERSION		= 1.0
RELEASE		= 1
COLOR		= orange
ARCH		= x86_64
REDHAT.ROOT	= $(CURDIR)
# The rolls a frontend needs before this one (Rocks 6: base, kernel, os; xen for real guests).
ROLL_REQUIRES	= base kernel os xen
