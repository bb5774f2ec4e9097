//go:build !unix

package main

func getRusage() rusage {
	fail("the scaling and grid modes read getrusage, which only Unix systems have")
	return rusage{}
}
