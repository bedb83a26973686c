// etcd-load: the closed-loop load generator for etcd in the peers benchmark, using etcd's own
// clientv3. `concurrency` goroutines each Put a fresh key with a `value`-byte value as soon as
// the previous Put returned, over `conns` client connections. Only Puts that start and finish
// inside the measured window are counted. Prints one JSON object on stdout. With -cacert,
// -cert and -key the client talks TLS to the endpoints (https://) and presents a client
// certificate (etcd's --client-cert-auth).
//
// Built against Debian's golang-etcd-server-dev sources (GOPATH mode, no network):
//
//	GO111MODULE=off GOPATH=$tmp:/usr/share/gocode go build -o etcd-load .
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/clientv3"
	"go.etcd.io/etcd/pkg/transport"
)

type latency struct {
	Count  int     `json:"count"`
	P50Us  float64 `json:"p50Us"`
	P99Us  float64 `json:"p99Us"`
	P999Us float64 `json:"p999Us"`
	MaxUs  float64 `json:"maxUs"`
	MeanUs float64 `json:"meanUs"`
}

type result struct {
	Concurrency   int     `json:"concurrency"`
	ValueBytes    int     `json:"valueBytes"`
	MeasureMs     int     `json:"measureMs"`
	Commits       int     `json:"commits"`
	CommitsPerSec int     `json:"commitsPerSec"`
	Errors        int     `json:"errors"`
	Latency       latency `json:"latency"`
}

func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100.0+0.5) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return float64(sorted[i].Nanoseconds()/100) / 10
}

func main() {
	endpoints := flag.String("endpoints", "127.0.0.1:2379", "comma-separated client URLs")
	concurrency := flag.Int("concurrency", 1, "closed-loop clients")
	conns := flag.Int("conns", 4, "client connections (clients are spread over them)")
	valueBytes := flag.Int("value", 100, "value size in bytes")
	warmup := flag.Duration("warmup", 2*time.Second, "warm-up")
	measure := flag.Duration("measure", 10*time.Second, "measured window")
	caFile := flag.String("cacert", "", "CA certificate (PEM) for TLS to the endpoints; plain if empty")
	certFile := flag.String("cert", "", "client certificate (PEM)")
	keyFile := flag.String("key", "", "client key (PEM)")
	flag.Parse()

	config := clientv3.Config{Endpoints: strings.Split(*endpoints, ","), DialTimeout: 5 * time.Second}
	if *caFile != "" {
		tlsConfig, err := transport.TLSInfo{TrustedCAFile: *caFile, CertFile: *certFile, KeyFile: *keyFile}.ClientConfig()
		if err != nil {
			fmt.Fprintln(os.Stderr, "etcd-load: tls:", err)
			os.Exit(1)
		}
		config.TLS = tlsConfig
	}

	if *conns > *concurrency {
		*conns = *concurrency
	}
	clients := make([]*clientv3.Client, *conns)
	for i := range clients {
		c, err := clientv3.New(config)
		if err != nil {
			fmt.Fprintln(os.Stderr, "etcd-load: connect:", err)
			os.Exit(1)
		}
		defer c.Close()
		clients[i] = c
	}
	value := strings.Repeat("a", *valueBytes)
	start := time.Now().Add(*warmup)
	end := start.Add(*measure)

	var mu sync.Mutex
	var all []time.Duration
	errors := 0
	var wg sync.WaitGroup
	for g := 0; g < *concurrency; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			cli := clients[g%len(clients)]
			var mine []time.Duration
			myErrors := 0
			for seq := 0; ; seq++ {
				begin := time.Now()
				if !begin.Before(end) {
					break
				}
				_, err := cli.Put(context.Background(), fmt.Sprintf("k%d-%d", g, seq), value)
				if err != nil {
					myErrors++
					continue
				}
				done := time.Now()
				if !begin.Before(start) && !done.After(end) {
					mine = append(mine, done.Sub(begin))
				}
			}
			mu.Lock()
			all = append(all, mine...)
			errors += myErrors
			mu.Unlock()
		}(g)
	}
	wg.Wait()
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	var sum time.Duration
	for _, d := range all {
		sum += d
	}
	lat := latency{Count: len(all), P50Us: percentile(all, 50), P99Us: percentile(all, 99), P999Us: percentile(all, 99.9), MaxUs: percentile(all, 100)}
	if len(all) > 0 {
		lat.MeanUs = float64(sum.Nanoseconds()/int64(len(all))/100) / 10
	}
	ms := int(measure.Milliseconds())
	out, _ := json.Marshal(result{
		Concurrency: *concurrency, ValueBytes: *valueBytes, MeasureMs: ms, Commits: len(all),
		CommitsPerSec: int(float64(len(all)) / measure.Seconds()), Errors: errors, Latency: lat,
	})
	fmt.Println(string(out))
}
