package enginetest_test
import ("testing"; "github.com/mlenv/mlenv/runner/enginetest")
func TestBuild(t *testing.T){ t.Log(enginetest.PythonImage(t)) }
