module github.com/rocksclusters/vcluster

go 1.23.0

toolchain go1.23.12

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/digitalocean/go-libvirt v0.0.0-20240709142323-d8406205c752
	github.com/go-sql-driver/mysql v1.9.3
	github.com/kolo/xmlrpc v0.0.0-20220921171641-a4b6fa1dd06b
	github.com/songgao/water v0.0.0-20200317203138-2b4b6d7c09d8
	golang.org/x/crypto v0.41.0
	golang.org/x/sys v0.35.0
)

require filippo.io/edwards25519 v1.1.0 // indirect
