module github.com/fedora-eln/ebs/services/status

go 1.26

require (
	github.com/fedora-eln/ebs/libs v0.0.0
	github.com/fedora-eln/ebs/proto v0.0.0
)

replace (
	github.com/fedora-eln/ebs/libs => ../../libs
	github.com/fedora-eln/ebs/proto => ../../proto
)
