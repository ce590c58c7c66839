module github.com/rocksclusters/vcluster

go 1.26.8

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/digitalocean/go-libvirt v0.0.0-20261013170128-efbbdf578ac8
	github.com/go-sql-driver/mysql v1.10.1
	github.com/kolo/xmlrpc v0.0.0-20220921171641-a4b6fa1dd06b
	github.com/songgao/water v0.0.0-20200317203138-2b4b6d7c09d8
	golang.org/x/crypto v0.59.0
	golang.org/x/sys v0.50.0
)

require filippo.io/edwards25519 v1.2.0 // indirect
