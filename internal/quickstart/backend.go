package quickstart

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"sync"
)

// Backend is the sample API's backend: a pizza shop that keeps orders in
// memory. It exists so that `keyway up` has something real to route to.
type Backend struct {
	mu     sync.Mutex
	orders map[string]order
}

type order struct {
	OrderID      string `json:"orderId"`
	PizzaType    string `json:"pizzaType"`
	Quantity     int    `json:"quantity"`
	CustomerName string `json:"customerName"`
}

type menuItem struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Price       string `json:"price"`
}

var menu = []menuItem{
	{"Margherita", "Tomato, mozzarella and basil", "9.99"},
	{"Marinara", "Tomato, garlic and oregano", "7.99"},
	{"Quattro Formaggi", "Four cheeses", "12.99"},
	{"Diavola", "Spicy salami and chilli", "11.99"},
}

// NewBackend returns an empty pizza shop.
func NewBackend() *Backend { return &Backend{orders: map[string]order{}} }

// Handler serves the shop under /pizzashack.
func (b *Backend) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /pizzashack/menu", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, menu)
	})
	mux.HandleFunc("POST /pizzashack/order", func(w http.ResponseWriter, r *http.Request) {
		var o order
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&o); err != nil || o.PizzaType == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "an order needs a JSON body with pizzaType"})
			return
		}
		if o.Quantity <= 0 {
			o.Quantity = 1
		}
		id := make([]byte, 8)
		_, _ = rand.Read(id)
		o.OrderID = hex.EncodeToString(id)
		b.mu.Lock()
		b.orders[o.OrderID] = o
		b.mu.Unlock()
		writeJSON(w, http.StatusCreated, o)
	})
	mux.HandleFunc("GET /pizzashack/order/{orderId}", func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		o, ok := b.orders[r.PathValue("orderId")]
		b.mu.Unlock()
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such order"})
			return
		}
		writeJSON(w, http.StatusOK, o)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
