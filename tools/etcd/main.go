// Command etcd is etcd's own server entry point, built from the module proxy
// because Debian ships only etcd 3.4, which lacks the watch-progress requests
// kube-apiserver 1.35 uses for consistent reads from its cache.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
