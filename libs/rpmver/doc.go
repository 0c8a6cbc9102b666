// Package rpmver owns RPM version arithmetic for ebs: rpm's rpmvercmp
// (Compare, including '~' and '^'), rpm.labelCompare over epoch, version and
// release (LabelCompare), splitting an NVR (ParseNVR), and the original
// ELNBuildSync's removal of Fedora and ELN dist tags before comparing
// releases (StripDistTag).
//
// filter uses it to choose between a Rawhide and an ELN build; status uses it
// for status.json's "Built by another user".
package rpmver
