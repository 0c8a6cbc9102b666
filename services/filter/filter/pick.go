package filter

import "github.com/fedora-eln/ebs/libs/rpmver"

// Choice is the build a manual or reconciler rebuild uses.
type Choice struct {
	Build   KojiBuild
	FromELN bool
	Note    string
}

// Pick chooses between the latest Rawhide build of a component's Fedora name
// and the latest ELN build of its ELN name as the original's
// rebuild_from_components did: with both, strip the dist tags
// ((\.fc|\.eln)\d+) from the releases and compare with rpm's labelCompare;
// the newer wins, and on a tie the later creation_time wins, ELN winning an
// exact tie. With one of them, that one. With neither, ok is false.
func Pick(rawhide, eln *KojiBuild) (c Choice, ok bool) {
	switch {
	case rawhide != nil && eln != nil:
		r, e := rawhide.EVR(), eln.EVR()
		r.Release, e.Release = rpmver.StripDistTag(r.Release), rpmver.StripDistTag(e.Release)
		switch cmp := rpmver.LabelCompare(r, e); {
		case cmp > 0:
			return Choice{Build: *rawhide, Note: "Rawhide build " + rawhide.NVR + " is newer than ELN build " + eln.NVR}, true
		case cmp < 0:
			return Choice{Build: *eln, FromELN: true, Note: "ELN build " + eln.NVR + " is newer than Rawhide build " + rawhide.NVR}, true
		case rawhide.CreationTime.After(eln.CreationTime):
			return Choice{Build: *rawhide, Note: "same version as ELN build " + eln.NVR + "; the Rawhide build " + rawhide.NVR + " was created later"}, true
		default:
			return Choice{Build: *eln, FromELN: true, Note: "same version as Rawhide build " + rawhide.NVR + "; the ELN build " + eln.NVR + " was created later or at the same time"}, true
		}
	case rawhide != nil:
		return Choice{Build: *rawhide, Note: "no ELN build yet; rebuilding Rawhide build " + rawhide.NVR}, true
	case eln != nil:
		return Choice{Build: *eln, FromELN: true, Note: "no Rawhide build (renamed package?); rebuilding ELN build " + eln.NVR}, true
	}
	return Choice{}, false
}
