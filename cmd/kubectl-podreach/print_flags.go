package main

import (
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
	"github.com/podreach/kubectl-podreach/pkg/render"
)

// PrintFlags is -o: podreach's own formats, printed by pkg/render (table,
// wide, json, yaml, dot).
type PrintFlags struct {
	OutputFormat *string
}

// NewPrintFlags returns -o with the table as the default.
func NewPrintFlags() *PrintFlags {
	format := render.FormatTable
	return &PrintFlags{OutputFormat: &format}
}

// AllowedFormats lists the -o values.
func (f *PrintFlags) AllowedFormats() []string {
	return slices.Clone(render.Formats)
}

// AddFlags binds -o to cmd.
func (f *PrintFlags) AddFlags(cmd *cobra.Command) {
	cmd.Flags().StringVarP(f.OutputFormat, "output", "o", *f.OutputFormat,
		"Output format. One of: "+strings.Join(f.AllowedFormats(), "|")+".")
}

// printer writes the report.
type printer func(w io.Writer, r *api.Reachability) error

// ToPrinter returns the printer -o asks for; an unknown format is a usage
// error, worded as kubectl words it. color applies to the table.
func (f *PrintFlags) ToPrinter(color bool) (printer, error) {
	format := *f.OutputFormat
	if !slices.Contains(render.Formats, format) {
		return nil, usageErr(genericclioptions.NoCompatiblePrinterError{OutputFormat: &format, AllowedFormats: f.AllowedFormats()}.Error())
	}
	return func(w io.Writer, r *api.Reachability) error {
		return render.Print(w, r, format, render.Options{Color: color})
	}, nil
}
