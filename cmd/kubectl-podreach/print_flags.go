package main

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
	"github.com/podreach/kubectl-podreach/pkg/render"
)

// PrintFlags is -o: podreach's own formats, printed by pkg/render (table,
// wide, json, yaml, dot), beside kubectl's template printers from
// cli-runtime (go-template, go-template-file, jsonpath, jsonpath-as-json,
// jsonpath-file) with their --template and --allow-missing-template-keys,
// which select from the report by its JSON field names, as
// `kubectl get -o jsonpath=...` does from an object.
type PrintFlags struct {
	OutputFormat  *string
	TemplateFlags *genericclioptions.KubeTemplatePrintFlags

	// outputChanged tells whether -o was given (AddFlags sets it): a
	// --template without -o means -o go-template, as in kubectl.
	outputChanged func() bool
}

// NewPrintFlags returns -o with the table as the default.
func NewPrintFlags() *PrintFlags {
	format := render.FormatTable
	return &PrintFlags{
		OutputFormat:  &format,
		TemplateFlags: genericclioptions.NewKubeTemplatePrintFlags(),
		outputChanged: func() bool { return false },
	}
}

// AllowedFormats lists the -o values: podreach's own, then kubectl's
// template formats.
func (f *PrintFlags) AllowedFormats() []string {
	return append(slices.Clone(render.Formats), f.TemplateFlags.AllowedFormats()...)
}

// AddFlags binds -o, --template and --allow-missing-template-keys to cmd.
func (f *PrintFlags) AddFlags(cmd *cobra.Command) {
	cmd.Flags().StringVarP(f.OutputFormat, "output", "o", *f.OutputFormat,
		"Output format. One of: "+strings.Join(f.AllowedFormats(), "|")+".")
	f.TemplateFlags.AddFlags(cmd)
	f.outputChanged = func() bool { return cmd.Flags().Changed("output") }
}

// printer writes the report: a *api.Reachability or, for the fleet forms,
// a *api.ReachabilityList.
type printer func(w io.Writer, obj runtime.Object) error

// ToPrinter returns the printer -o asks for; an unknown format, a template
// that does not parse or a template file that cannot be read is a usage
// error. color applies to the table, details to a list's table.
func (f *PrintFlags) ToPrinter(color, details bool) (printer, error) {
	format := f.format()
	if slices.Contains(render.Formats, format) {
		return func(w io.Writer, obj runtime.Object) error {
			opts := render.Options{Color: color, Details: details}
			switch r := obj.(type) {
			case *api.ReachabilityList:
				return render.PrintList(w, r, format, opts)
			case *api.Reachability:
				return render.Print(w, r, format, opts)
			}
			return fmt.Errorf("cannot print %T", obj)
		}, nil
	}
	p, err := f.templatePrinter(format)
	if err != nil {
		return nil, err
	}
	return printer(p), nil
}

// format is -o, or go-template when only --template is given (as kubectl).
func (f *PrintFlags) format() string {
	if *f.TemplateFlags.TemplateArgument != "" && !f.outputChanged() {
		return "go-template"
	}
	return *f.OutputFormat
}

// templatePrinter is kubectl's template printer for format, printing any
// of podreach's objects by their JSON field names.
func (f *PrintFlags) templatePrinter(format string) (func(io.Writer, runtime.Object) error, error) {
	p, err := f.TemplateFlags.ToPrinter(format)
	if genericclioptions.IsNoCompatiblePrinterError(err) {
		err = genericclioptions.NoCompatiblePrinterError{OutputFormat: &format, AllowedFormats: f.AllowedFormats()}
	}
	if err != nil {
		return nil, usageErr(err.Error())
	}
	return func(w io.Writer, obj runtime.Object) error {
		// Into a buffer first: a template that fails half-way prints
		// nothing (the go-template printer also writes its debugging
		// notes there).
		var buf bytes.Buffer
		if err := p.PrintObj(obj, &buf); err != nil {
			return usageErr(err.Error())
		}
		_, err := w.Write(buf.Bytes())
		return err
	}, nil
}

// diffPrinter writes a --diff report.
type diffPrinter func(w io.Writer, d *api.ReachabilityDiff) error

// ToDiffPrinter returns the printer of --diff: podreach's table (also for
// -o wide), json, yaml, or kubectl's templates over the ReachabilityDiff.
func (f *PrintFlags) ToDiffPrinter(color bool) (diffPrinter, error) {
	format := f.format()
	switch format {
	case render.FormatDot:
		return nil, usageErr("-o dot draws one report's paths; it does not apply to --diff (use table, json or yaml)")
	case render.FormatTable, render.FormatWide, render.FormatJSON, render.FormatYAML:
		return func(w io.Writer, d *api.ReachabilityDiff) error {
			return render.PrintDiff(w, d, format, render.Options{Color: color})
		}, nil
	}
	p, err := f.templatePrinter(format)
	if err != nil {
		return nil, err
	}
	return func(w io.Writer, d *api.ReachabilityDiff) error { return p(w, d) }, nil
}
