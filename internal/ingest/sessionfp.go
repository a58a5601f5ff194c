package ingest

import (
	"database/sql"
	"database/sql/driver"
	"fmt"

	"github.com/duckdb/duckdb-go/v2"
)

// SessionFPFunc is the SQL function that gives the session fingerprint of
// an action and a session: session_fp(action_type, session_id) is the fp a
// call without args (and without a tool call id) gets from its session, so
// a call whose fp differs from it — args, a configured identity, a tool
// call id — is fingerprinted by what identifies its operation:
//
//	args_fp IS NOT NULL OR fp <> idemaudit_session_fp(action_type, session_id)
//
// (a call without args and without a session has an fp only from a tool
// call id: the function gives NULL for a NULL session, and the rules read
// that as not the session's). Derived from the columns every database
// has, it needs no migration and holds for calls ingested before.
const SessionFPFunc = "idemaudit_session_fp"

// SessionFP is the fingerprint Parser.Parse gives a call of action that
// has neither args nor a tool call id, in session.
func SessionFP(action, session string) [16]byte {
	var p Parser
	return p.hash('s', action, []byte(session))
}

type sessionFPFunc struct{}

func (sessionFPFunc) Config() duckdb.ScalarFuncConfig {
	str, _ := duckdb.NewTypeInfo(duckdb.TYPE_VARCHAR)
	uuid, _ := duckdb.NewTypeInfo(duckdb.TYPE_UUID)
	return duckdb.ScalarFuncConfig{InputTypeInfos: []duckdb.TypeInfo{str, str}, ResultTypeInfo: uuid}
}

func (sessionFPFunc) Executor() duckdb.ScalarFuncExecutor {
	return duckdb.ScalarFuncExecutor{RowExecutor: func(v []driver.Value) (any, error) {
		action, ok1 := v[0].(string)
		session, ok2 := v[1].(string)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("%s: want two strings, got %T and %T", SessionFPFunc, v[0], v[1])
		}
		return duckdb.UUID(SessionFP(action, session)), nil
	}}
}

func registerSessionFPFunc(c *sql.Conn) error {
	return duckdb.RegisterScalarUDF(c, SessionFPFunc, sessionFPFunc{})
}
