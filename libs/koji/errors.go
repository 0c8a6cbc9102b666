package koji

import (
	"errors"
	"fmt"

	"github.com/fedora-eln/ebs/libs/koji/wire"
)

// Fault codes from koji/__init__.py.
const (
	CodeUnknown            = 1
	CodeGenericError       = 1000
	CodeLockError          = 1001
	CodeAuthError          = 1002
	CodeTagError           = 1003
	CodeActionNotAllowed   = 1004
	CodeBuildError         = 1005
	CodeAuthLockError      = 1006
	CodeAuthExpired        = 1007
	CodeSequenceError      = 1008
	CodeRetryError         = 1009
	CodePreBuildError      = 1010
	CodePostBuildError     = 1011
	CodeBuildrootError     = 1012
	CodeFunctionDeprecated = 1013
	CodeServerOffline      = 1014
	CodeLiveCDError        = 1015
	CodePluginError        = 1016
	CodeCallbackError      = 1017
	CodeApplianceError     = 1018
	CodeParameterError     = 1019
	CodeImportError        = 1020
	CodeConfigurationError = 1021
	CodeLiveMediaError     = 1022
	CodeGSSAPIAuthError    = 1023
	CodeNameValidation     = 1024
)

var faultNames = map[int]string{
	CodeUnknown: "Fault", CodeGenericError: "GenericError", CodeLockError: "LockError",
	CodeAuthError: "AuthError", CodeTagError: "TagError", CodeActionNotAllowed: "ActionNotAllowed",
	CodeBuildError: "BuildError", CodeAuthLockError: "AuthLockError", CodeAuthExpired: "AuthExpired",
	CodeSequenceError: "SequenceError", CodeRetryError: "RetryError", CodePreBuildError: "PreBuildError",
	CodePostBuildError: "PostBuildError", CodeBuildrootError: "BuildrootError",
	CodeFunctionDeprecated: "FunctionDeprecated", CodeServerOffline: "ServerOffline",
	CodeLiveCDError: "LiveCDError", CodePluginError: "PluginError", CodeCallbackError: "CallbackError",
	CodeApplianceError: "ApplianceError", CodeParameterError: "ParameterError",
	CodeImportError: "ImportError", CodeConfigurationError: "ConfigurationError",
	CodeLiveMediaError: "LiveMediaError", CodeGSSAPIAuthError: "GSSAPIAuthError",
	CodeNameValidation: "NameValidationError",
}

// parents is Koji's exception hierarchy (child code -> parent code).
var parents = map[int]int{
	CodeAuthLockError: CodeAuthError, CodeAuthExpired: CodeAuthError,
	CodeSequenceError: CodeAuthError, CodeRetryError: CodeAuthError,
	CodeGSSAPIAuthError: CodeAuthError,
	CodePreBuildError:   CodeBuildError, CodePostBuildError: CodeBuildError,
	CodeBuildrootError: CodeBuildError,
}

// FaultName is Koji's exception class name for a fault code.
func FaultName(code int) string {
	if n, ok := faultNames[code]; ok {
		return n
	}
	return fmt.Sprintf("Fault%d", code)
}

// Fault is a Koji fault: the hub (or one element of a multicall) raised an
// exception. Use errors.As to read the code, or errors.Is against the Err*
// sentinels, which follow Koji's class hierarchy (errors.Is(expired,
// ErrAuthError) is true, as AuthExpired subclasses AuthError).
type Fault struct {
	Code      int
	Message   string
	Method    string   // the call that faulted
	Traceback []string // only for non-Koji exceptions inside a multicall
}

func (f *Fault) Error() string {
	if f.Method != "" {
		return fmt.Sprintf("koji %s: %s (%d): %s", f.Method, FaultName(f.Code), f.Code, f.Message)
	}
	return fmt.Sprintf("koji: %s (%d): %s", FaultName(f.Code), f.Code, f.Message)
}

// Name is Koji's class name for the fault, e.g. "TagError".
func (f *Fault) Name() string { return FaultName(f.Code) }

// Is matches sentinels by code, walking up Koji's exception hierarchy.
func (f *Fault) Is(target error) bool {
	t, ok := target.(*Fault)
	if !ok || t.Message != "" || t.Method != "" {
		return false
	}
	for c := f.Code; c != 0; c = parents[c] {
		if c == t.Code {
			return true
		}
	}
	return false
}

// Sentinels for errors.Is.
var (
	ErrGenericError     = &Fault{Code: CodeGenericError}
	ErrLockError        = &Fault{Code: CodeLockError}
	ErrAuthError        = &Fault{Code: CodeAuthError}
	ErrTagError         = &Fault{Code: CodeTagError}
	ErrActionNotAllowed = &Fault{Code: CodeActionNotAllowed}
	ErrBuildError       = &Fault{Code: CodeBuildError}
	ErrAuthLockError    = &Fault{Code: CodeAuthLockError}
	ErrAuthExpired      = &Fault{Code: CodeAuthExpired}
	ErrSequenceError    = &Fault{Code: CodeSequenceError}
	ErrRetryError       = &Fault{Code: CodeRetryError}
	ErrBuildrootError   = &Fault{Code: CodeBuildrootError}
	ErrServerOffline    = &Fault{Code: CodeServerOffline}
	ErrParameterError   = &Fault{Code: CodeParameterError}
	ErrGSSAPIAuthError  = &Fault{Code: CodeGSSAPIAuthError}
)

// FaultCode returns the fault code inside err, or 0.
func FaultCode(err error) int {
	var f *Fault
	if errors.As(err, &f) {
		return f.Code
	}
	return 0
}

func faultFromWire(method string, w *wire.Fault) *Fault {
	return &Fault{Code: w.Code, Message: w.String, Method: method, Traceback: w.Traceback}
}

// HTTPError is a non-200 answer from the hub or a proxy in front of it.
type HTTPError struct {
	Method     string
	StatusCode int
	Status     string
	Body       string // first bytes, for the log
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("koji %s: HTTP %s: %s", e.Method, e.Status, e.Body)
}

// Temporary reports whether the status is worth a retry (5xx, 408, 429).
func (e *HTTPError) Temporary() bool {
	return e.StatusCode >= 500 || e.StatusCode == 408 || e.StatusCode == 429
}

// ErrNotLoggedIn is returned by Login-dependent helpers on a client without
// an Authenticator.
var ErrNotLoggedIn = errors.New("koji: no authenticator configured")

// ErrRetryBudget wraps the last error when the retry budget ran out.
var ErrRetryBudget = errors.New("koji: retry budget exhausted")
