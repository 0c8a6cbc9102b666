package bodhisim

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"strings"
	"time"

	"github.com/fedora-eln/ebs/libs/bodhi"
)

// apiError is an answer in Bodhi's error shape.
type apiError struct {
	status int
	errors []bodhi.ErrorDetail
}

func (e *apiError) Error() string { return fmt.Sprintf("HTTP %d %v", e.status, e.errors) }

func errorf(status int, location, name, format string, args ...any) *apiError {
	return &apiError{status: status, errors: []bodhi.ErrorDetail{{Location: location, Name: name, Description: fmt.Sprintf(format, args...)}}}
}

func (e *apiError) add(location, name, description string) {
	e.errors = append(e.errors, bodhi.ErrorDetail{Location: location, Name: name, Description: description})
}

func wantsJSON(r *http.Request) bool {
	a := r.Header.Get("Accept")
	return strings.Contains(a, "application/json") || strings.Contains(a, "text/json")
}

// writeError answers e as Bodhi does: JSON for API clients, an HTML page
// otherwise (which is why clients must send Accept: application/json).
func writeError(w http.ResponseWriter, r *http.Request, e *apiError) {
	if !wantsJSON(r) {
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		w.WriteHeader(e.status)
		fmt.Fprintf(w, "<!DOCTYPE html>\n<html><head><title>%d %s</title></head><body><h1>%s</h1><ul>",
			e.status, http.StatusText(e.status), http.StatusText(e.status))
		for _, d := range e.errors {
			fmt.Fprintf(w, "<li>%s</li>", html.EscapeString(d.Description))
		}
		fmt.Fprint(w, "</ul></body></html>\n")
		return
	}
	writeJSON(w, e.status, map[string]any{"status": "error", "errors": e.errors})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oidc/login-token", s.loginToken)
	mux.HandleFunc("GET /csrf", s.csrf)
	mux.HandleFunc("GET /releases/", s.listReleases)
	mux.HandleFunc("GET /updates/", s.listUpdates)
	mux.HandleFunc("POST /updates/", s.createUpdate)
	mux.HandleFunc("GET /updates/{alias}", s.getUpdate)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, errorf(http.StatusNotFound, "url", "", "The resource could not be found."))
	})
	return s.withFaults(mux)
}

// withFaults applies injected faults before routing.
func (s *Server) withFaults(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := s.takeFault(r)
		if f != nil && f.Delay > 0 {
			select {
			case <-time.After(f.Delay):
			case <-r.Context().Done():
				return
			}
		}
		if f != nil && f.Status != 0 {
			if f.HTML || (len(f.Errors) == 0 && f.Status >= 500) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(f.Status)
				fmt.Fprintf(w, "<html><body><h1>%d %s</h1>The server is temporarily unable to service your request.</body></html>\n",
					f.Status, http.StatusText(f.Status))
				return
			}
			writeError(w, r, &apiError{status: f.Status, errors: f.Errors})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) takeFault(r *http.Request) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if (f.Method == "" || f.Method == r.Method) && strings.HasPrefix(r.URL.Path, f.Path) {
			hit := *f
			if f.Times > 0 {
				f.Times--
				if f.Times == 0 {
					s.faults = append(s.faults[:i], s.faults[i+1:]...)
				}
			}
			return &hit
		}
	}
	return nil
}

const (
	cookieSession = "session"
	cookieAuthTkt = "auth_tkt"
)

// sessionFor returns the request's session, creating one (and setting its
// cookie) when it has none.
func (s *Server) sessionFor(w http.ResponseWriter, r *http.Request) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, err := r.Cookie(cookieSession); err == nil {
		if ss, ok := s.session[c.Value]; ok {
			return ss
		}
	}
	id := randHex(24)
	ss := &session{csrf: randHex(20)}
	s.session[id] = ss
	if w != nil {
		http.SetCookie(w, &http.Cookie{Name: cookieSession, Value: id, Path: "/", HttpOnly: true,
			SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
	}
	return ss
}

// identity returns the signed-in account, if the auth_tkt is valid.
func (s *Server) identity(r *http.Request) (account, bool) {
	c, err := r.Cookie(cookieAuthTkt)
	if err != nil {
		return account{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tickets[c.Value]
	if !ok || time.Now().After(t.expires) {
		return account{}, false
	}
	a, ok := s.users[t.user]
	return a, ok
}

func (s *Server) csrf(w http.ResponseWriter, r *http.Request) {
	s.count("csrf")
	ss := s.sessionFor(w, r)
	s.mu.Lock()
	tok := ss.csrf
	s.mu.Unlock()
	if !wantsJSON(r) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, tok)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"csrf_token": tok})
}

func (s *Server) loginToken(w http.ResponseWriter, r *http.Request) {
	s.count("login")
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(tok) == "" {
		writeError(w, r, errorf(http.StatusUnauthorized, "body", "MissingAuthorizationError",
			"missing_authorization: Missing \"Authorization\" in headers."))
		return
	}
	acct, aerr := s.checkToken(r.Context(), strings.TrimSpace(tok))
	if aerr != nil {
		writeError(w, r, aerr)
		return
	}
	id := randHex(32)
	s.mu.Lock()
	s.users[acct.name] = acct
	s.tickets[id] = ticket{user: acct.name, expires: time.Now().Add(s.o.AuthTktLifetime)}
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: cookieAuthTkt, Value: id, Path: "/", HttpOnly: true,
		MaxAge: int(s.o.AuthTktLifetime.Seconds()), SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	s.log.Info("signed in", "user", acct.name, "groups", acct.groups)
	w.Header().Set("Content-Type", "text/html; charset=UTF-8")
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprint(w, "202 Accepted\n\nThe request is accepted for processing.\n")
}
