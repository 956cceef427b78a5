"""Stage 2, spec -> plan -> document. Takes a spec; runs the real program under Pulumi's mocks
(`offline`) and gives the stack-export document (`document`, which also reads real exports),
the difference of two documents (`diff`) and the files each container receives (`files`)."""
