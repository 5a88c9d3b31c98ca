// Command loadgen sends one pre-built request body to a scoring server from C keep-alive
// connections for a fixed time and prints a JSON line: requests, errors, requests/s, p50, p99 (ms)
// and the CPU time the load generator itself used, so a run can show it was not the bottleneck.
//
//	loadgen -url http://127.0.0.1:5001/invocations -body body.json -c 32 -d 10s
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"sync"
	"syscall"
	"time"
)

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

func main() {
	url := flag.String("url", "", "endpoint")
	bodyFile := flag.String("body", "", "file with the request body")
	contentType := flag.String("type", "application/json", "content type")
	conc := flag.Int("c", 1, "concurrent connections")
	dur := flag.Duration("d", 10*time.Second, "measurement time")
	warm := flag.Duration("warmup", 2*time.Second, "warm-up time (not measured)")
	flag.Parse()
	body, err := os.ReadFile(*bodyFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tr := &http.Transport{MaxIdleConns: *conc * 2, MaxIdleConnsPerHost: *conc * 2, MaxConnsPerHost: *conc, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}

	var mu sync.Mutex
	var lat []float64
	errors := 0
	measuring := false
	stop := false
	var wg sync.WaitGroup
	for i := 0; i < *conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]float64, 0, 100000)
			localErr := 0
			for {
				mu.Lock()
				m, s := measuring, stop
				mu.Unlock()
				if s {
					break
				}
				t0 := time.Now()
				req, _ := http.NewRequest("POST", *url, bytes.NewReader(body))
				req.Header.Set("Content-Type", *contentType)
				res, err := client.Do(req)
				ok := err == nil && res.StatusCode == 200
				if err == nil {
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
				}
				if m {
					if ok {
						local = append(local, float64(time.Since(t0).Microseconds())/1000)
					} else {
						localErr++
					}
				}
			}
			mu.Lock()
			lat = append(lat, local...)
			errors += localErr
			mu.Unlock()
		}()
	}
	time.Sleep(*warm)
	mu.Lock()
	measuring = true
	mu.Unlock()
	cpu0 := cpuSeconds()
	t0 := time.Now()
	time.Sleep(*dur)
	mu.Lock()
	stop = true
	mu.Unlock()
	elapsed := time.Since(t0).Seconds()
	cpu := cpuSeconds() - cpu0
	wg.Wait()
	sort.Float64s(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return lat[int(p*float64(len(lat)-1))]
	}
	out, _ := json.Marshal(map[string]any{
		"requests": len(lat), "errors": errors, "rps": float64(len(lat)) / elapsed,
		"p50_ms": pct(0.5), "p99_ms": pct(0.99), "loadgen_cpu_share": cpu / elapsed,
	})
	fmt.Println(string(out))
}
