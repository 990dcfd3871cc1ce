// Values as DICOM writes them, shared by Tessera's DICOM writers (private to
// imaging/).
#pragma once

#include <initializer_list>
#include <string>

namespace tessera::imaging::dicom {

// A decimal string (DS) holds at most 16 characters: the most precise %g
// form that fits.
std::string decimalString(double value);
// Values joined with DICOM's separator '\'.
std::string decimalStrings(std::initializer_list<double> values);

// A new globally unique UID (GDCM's generator, under its root).
std::string newUid();

// Local date and time formatted with strftime (DA "%Y%m%d", TM "%H%M%S").
std::string localNow(const char* format);

}  // namespace tessera::imaging::dicom
