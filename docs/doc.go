// Package docs holds the Markdown guides of the module; its test compiles every Go snippet in them.
package docs
