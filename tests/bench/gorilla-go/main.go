// The push server of the original design, as that design describes it in Go:
// gorilla/websocket with an Upgrader that accepts every origin and the default buffers, `clientid -> conn` in a sync.Map, one goroutine per socket reading until
// it fails. The design's push (the mini program's request writing the user's data down the
// socket) is `POST /push?clientid=ID`, whose body is written as one text frame.
//
// A baseline for `make bench` only: built by tests/bench/run.sh with Debian's golang-go
// and golang-github-gorilla-websocket-dev (GOPATH mode, no downloads).
package main

import (
	"io"
	"log"
	"net/http"
	"os"
	"sync"

	"github.com/gorilla/websocket"
)

var clientMap sync.Map

func socket(w http.ResponseWriter, req *http.Request) {
	clientid := req.URL.Query().Get("clientid")
	conn, err := (&websocket.Upgrader{
		CheckOrigin: func(r *http.Request) bool { return true },
	}).Upgrade(w, req, nil)
	if err != nil {
		return
	}
	clientMap.Store(clientid, conn)
	go func(clientid string, conn *websocket.Conn) {
		defer func() {
			conn.Close()
			clientMap.Delete(clientid)
		}()
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	}(clientid, conn)
}

func push(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	value, ok := clientMap.Load(req.URL.Query().Get("clientid"))
	if !ok {
		http.Error(w, "no such client", http.StatusNotFound)
		return
	}
	if err := value.(*websocket.Conn).WriteMessage(websocket.TextMessage, body); err != nil {
		http.Error(w, err.Error(), http.StatusGone)
		return
	}
	w.Write([]byte("ok"))
}

func main() {
	http.HandleFunc("/websocket", socket)
	http.HandleFunc("/push", push)
	log.Fatal(http.ListenAndServe(os.Args[1], nil))
}
