module github.com/fedora-eln/ebs/services/ebsctl

go 1.26

replace (
	github.com/fedora-eln/ebs/libs => ../../libs
	github.com/fedora-eln/ebs/proto => ../../proto
)
