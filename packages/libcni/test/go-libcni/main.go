// A tiny runtime on top of the upstream Go libcni, used by the interop test to check that it and
// @tscni/libcni read each other's result cache. Built on the fly from Debian's
// golang-github-appc-cni-dev sources (GOPATH mode, offline).
//
//	go-libcni add|check|del|cached <conflist file> <netns> <containerID> <ifname> <cacheDir> [capArgsJSON]
//
// Plugins are searched in CNI_PATH. add prints the result; cached prints what libcni reads back from
// the cache: {"result": <converted to the list's version>, "config": <list bytes>, "args", "capabilityArgs"}.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/containernetworking/cni/libcni"
)

func main() {
	if len(os.Args) < 7 {
		fail(fmt.Errorf("usage: go-libcni add|check|del|cached <conflist> <netns> <containerID> <ifname> <cacheDir> [capArgs]"))
	}
	paths := filepath.SplitList(os.Getenv("CNI_PATH"))
	list, err := libcni.ConfListFromFile(os.Args[2])
	if err != nil {
		fail(err)
	}
	rt := &libcni.RuntimeConf{ContainerID: os.Args[4], NetNS: os.Args[3], IfName: os.Args[5], Args: [][2]string{{"IgnoreUnknown", "1"}}}
	if len(os.Args) > 7 {
		if err := json.Unmarshal([]byte(os.Args[7]), &rt.CapabilityArgs); err != nil {
			fail(err)
		}
	}
	cni := libcni.NewCNIConfigWithCacheDir(paths, os.Args[6], nil)
	ctx := context.Background()
	switch os.Args[1] {
	case "add":
		result, err := cni.AddNetworkList(ctx, list, rt)
		if err != nil {
			fail(err)
		}
		out(result)
	case "check":
		fail(cni.CheckNetworkList(ctx, list, rt))
	case "del":
		fail(cni.DelNetworkList(ctx, list, rt))
	case "cached":
		result, err := cni.GetNetworkListCachedResult(list, rt)
		if err != nil {
			fail(err)
		}
		config, cachedRt, err := cni.GetNetworkListCachedConfig(list, rt)
		if err != nil {
			fail(err)
		}
		var args [][2]string
		var caps map[string]interface{}
		if cachedRt != nil {
			args, caps = cachedRt.Args, cachedRt.CapabilityArgs
		}
		out(map[string]interface{}{"result": result, "config": string(config), "args": args, "capabilityArgs": caps})
	default:
		fail(fmt.Errorf("unknown command %q", os.Args[1]))
	}
}

func out(v interface{}) {
	b, err := json.Marshal(v)
	if err != nil {
		fail(err)
	}
	fmt.Println(string(b))
}

func fail(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}
