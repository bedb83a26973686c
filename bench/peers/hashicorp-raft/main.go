// hashicorp-raft: one member of a 3-process hashicorp/raft cluster for the peers benchmark.
// hashicorp/raft's NetworkTransport over TCP (raft.NewTCPTransport, or the same transport on
// a mutual-TLS stream layer with -tls-*), raft-boltdb as log and stable store (BoltDB with
// fsync on every write: raft-boltdb's default) behind raft.NewLogCache as Consul and Nomad
// use it, a file snapshot store and an FSM that counts commands. Default timing (1 s
// heartbeat and election timeouts, like etcd's and quorate's defaults).
//
// Clients speak the benchmark's client protocol (bench/client-wire.ts) on -client, so the
// same closed-loop driver (bench/tcp-client.ts) measures it: every frame is
// `u32 length | u32 request id | body`, big-endian, length counting id + body; the response
// body is one status byte, 0 once raft.Apply's future returned (committed on a majority and
// applied to the leader's FSM), 1 on any error (not the leader, shutting down).
//
// Prints "ready" once listening and "leader" when it becomes leader, one line each, on
// stdout; exits on SIGTERM or when stdin closes.
//
// Built against Debian's golang-github-hashicorp-raft-dev and -raft-boltdb-dev sources
// (GOPATH mode, no network):
//
//	GO111MODULE=off GOPATH=$tmp:/usr/share/gocode go build -o hashicorp-raft .
package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb"
)

const (
	statusOK     = 0
	statusFailed = 1
	// maxFrame bounds one client frame, so a malformed length cannot make us allocate gigabytes.
	maxFrame = 16 << 20
	// logCacheEntries is the in-memory log cache in front of BoltDB (Consul uses 512).
	logCacheEntries = 512
	// applyTimeout bounds how long a proposal may wait to be enqueued on the leader.
	applyTimeout = 10 * time.Second
)

// counter is the FSM: it counts applied commands, like bench/counter-machine.ts.
type counter struct{ applied uint64 }

func (c *counter) Apply(*raft.Log) interface{} { atomic.AddUint64(&c.applied, 1); return nil }
func (c *counter) Snapshot() (raft.FSMSnapshot, error) {
	return &counterSnapshot{n: atomic.LoadUint64(&c.applied)}, nil
}
func (c *counter) Restore(r io.ReadCloser) error {
	defer r.Close()
	var b [8]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return err
	}
	atomic.StoreUint64(&c.applied, binary.BigEndian.Uint64(b[:]))
	return nil
}

type counterSnapshot struct{ n uint64 }

func (s *counterSnapshot) Persist(sink raft.SnapshotSink) error {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], s.n)
	if _, err := sink.Write(b[:]); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}
func (s *counterSnapshot) Release() {}

// tlsStream is a raft.StreamLayer over mutual TLS: the listener demands a client certificate
// signed by the cluster CA, and the dialer presents one and checks the server's.
type tlsStream struct {
	net.Listener
	config *tls.Config
}

func (t *tlsStream) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", string(address), t.config)
}

func tlsConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("no certificate in " + caFile)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert}, RootCAs: pool, ClientCAs: pool,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12,
	}, nil
}

func transport(bind string, caFile, certFile, keyFile string) (raft.Transport, error) {
	const pool, timeout = 3, 10 * time.Second
	if caFile == "" {
		return raft.NewTCPTransport(bind, nil, pool, timeout, io.Discard)
	}
	config, err := tlsConfig(caFile, certFile, keyFile)
	if err != nil {
		return nil, err
	}
	ln, err := tls.Listen("tcp", bind, config)
	if err != nil {
		return nil, err
	}
	return raft.NewNetworkTransport(&tlsStream{Listener: ln, config: config}, pool, timeout, io.Discard), nil
}

// serveClient reads frames from one client connection and answers each once its Apply
// future returns. Answers go through one writer goroutine that flushes when it has nothing
// more queued, so answers that complete together leave in one write.
func serveClient(r *raft.Raft, conn net.Conn) {
	defer conn.Close()
	if tcp, ok := conn.(*net.TCPConn); ok {
		tcp.SetNoDelay(true)
	}
	// Never closed: futures still pending when the connection ends send into it; its capacity
	// exceeds any benchmark concurrency, so they never block, and the writer ends on the
	// closed connection.
	answers := make(chan [9]byte, 4096)
	go func() {
		w := bufio.NewWriterSize(conn, 64<<10)
		for a := range answers {
			if _, err := w.Write(a[:]); err != nil {
				return
			}
			if len(answers) == 0 {
				if err := w.Flush(); err != nil {
					return
				}
			}
		}
	}()
	reader := bufio.NewReaderSize(conn, 64<<10)
	var head [8]byte
	for {
		if _, err := io.ReadFull(reader, head[:]); err != nil {
			break
		}
		length := binary.BigEndian.Uint32(head[0:4])
		id := binary.BigEndian.Uint32(head[4:8])
		if length < 4 || length > maxFrame {
			break
		}
		body := make([]byte, length-4)
		if _, err := io.ReadFull(reader, body); err != nil {
			break
		}
		future := r.Apply(body, applyTimeout)
		go func() {
			var a [9]byte
			binary.BigEndian.PutUint32(a[0:4], 5)
			binary.BigEndian.PutUint32(a[4:8], id)
			a[8] = statusOK
			if future.Error() != nil {
				a[8] = statusFailed
			}
			answers <- a
		}()
	}
}

func main() {
	id := flag.String("id", "", "this member's id")
	raftAddr := flag.String("raft", "", "this member's raft address host:port")
	clientAddr := flag.String("client", "", "client protocol address host:port")
	dir := flag.String("dir", "", "data directory")
	members := flag.String("members", "", "all members: id=host:port,...")
	caFile := flag.String("tls-ca", "", "CA certificate (PEM): mutual TLS between members; plain TCP if empty")
	certFile := flag.String("tls-cert", "", "this member's certificate (PEM)")
	keyFile := flag.String("tls-key", "", "this member's key (PEM)")
	noSync := flag.Bool("no-sync", false, "BoltDB without fsync (unsafe; for comparison only)")
	flag.Parse()
	fail := func(what string, err error) { fmt.Fprintln(os.Stderr, "hashicorp-raft:", what+":", err); os.Exit(1) }
	if *id == "" || *raftAddr == "" || *clientAddr == "" || *dir == "" || *members == "" {
		fail("flags", errors.New("-id, -raft, -client, -dir and -members are required"))
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		fail("data dir", err)
	}

	config := raft.DefaultConfig()
	config.LocalID = raft.ServerID(*id)
	config.Logger = hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Error, Output: os.Stderr})
	store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(*dir, "raft.db"), NoSync: *noSync})
	if err != nil {
		fail("bolt", err)
	}
	logs, err := raft.NewLogCache(logCacheEntries, store)
	if err != nil {
		fail("log cache", err)
	}
	snapshots, err := raft.NewFileSnapshotStore(*dir, 2, io.Discard)
	if err != nil {
		fail("snapshots", err)
	}
	trans, err := transport(*raftAddr, *caFile, *certFile, *keyFile)
	if err != nil {
		fail("transport", err)
	}
	var servers []raft.Server
	for _, m := range strings.Split(*members, ",") {
		kv := strings.SplitN(m, "=", 2)
		if len(kv) != 2 {
			fail("members", fmt.Errorf("%q is not id=host:port", m))
		}
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(kv[0]), Address: raft.ServerAddress(kv[1])})
	}
	// Every member bootstraps with the same configuration, as hashicorp/raft allows.
	if err := raft.BootstrapCluster(config, logs, store, snapshots, trans, raft.Configuration{Servers: servers}); err != nil && err != raft.ErrCantBootstrap {
		fail("bootstrap", err)
	}
	r, err := raft.NewRaft(config, &counter{}, logs, store, snapshots, trans)
	if err != nil {
		fail("raft", err)
	}

	ln, err := net.Listen("tcp", *clientAddr)
	if err != nil {
		fail("client listen", err)
	}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go serveClient(r, conn)
		}
	}()
	go func() {
		for isLeader := range r.LeaderCh() {
			if isLeader {
				fmt.Println("leader")
			}
		}
	}()
	fmt.Println("ready")

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); stop <- syscall.SIGTERM }()
	<-stop
	ln.Close()
	_ = r.Shutdown().Error()
	_ = store.Close()
}
